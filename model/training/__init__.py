"""Training: the `codefusion train` command, the generic trainer, corpora, data loading and splits."""
