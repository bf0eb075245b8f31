"""What a run trains: the log-mel front end layer and the CNN family registry (a pretrained registry goes here too)."""
