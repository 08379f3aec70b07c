s/^SigQ:.*/SigQ: (normalised)/
