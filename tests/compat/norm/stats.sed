/^dune: stats: /d
