"""From the training manifest to numpy batches: label space, audio cache, crops, augmentations (no Keras)."""
