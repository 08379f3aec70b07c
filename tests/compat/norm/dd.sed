s/^\([0-9]* bytes ([^)]*) copied\), .*/\1, (time and rate normalised)/
