"""Models: the feature spec, training, the registry of versions, and scoring rows with a model."""
