"""What a run trains: the log-mel front end layer, the CNN family registry and the pretrained models (musicnn)."""
