"""Train, evaluate and run the genre classifier on a training manifest."""
