"""The networks and what is done with them: architectures, training loops, the model table (which models the build
trains, cached), ONNX export, cross-validation, and metrics that several pages share."""
