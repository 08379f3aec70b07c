# bench/plot_privileged.gp: docs/privileged-api.png from the tables that
# bench/run.sh extracts from appel.csv and dirty.csv (medians).
#   gnuplot -e "appel='A.dat'; dirty='D.dat'; out='X.png'; info='...'" \
#           bench/plot_privileged.gp
# A.dat: primitive dune sigsegv uffd_miss uffd_wp wp_async  (ns per op)
# D.dat: step dune pagemap_scan [soft_dirty]  (us per round of 4096 pages)
# Missing values are "?".
set terminal pngcairo size 1400,560 font "sans,10" noenhanced
set output out
set datafile missing "?"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics mytics
set key top left
set multiplot layout 1,2 title "dune privileged API vs Linux (".info.")"

set title "Appel & Li primitives and a user page fault (per op, log scale)"
set logscale y
set ylabel "ns per op (median)"
set xtics rotate by -20
plot for [c=2:*] appel using c:xtic(1) title columnheader(c)

set title "Dirty tracking, 1 GiB with 4096 pages written (per round)"
set logscale y
set ylabel "us per round (median)"
set xtics norotate
plot for [c=2:*] dirty using c:xtic(1) title columnheader(c)
unset multiplot
