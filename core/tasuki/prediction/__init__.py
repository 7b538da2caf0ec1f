"""Prediction: the one path from examples to a task's outputs, and what builds on it.

- :mod:`tasuki.prediction.predict`: :func:`~tasuki.prediction.predict.predict`, examples -> features ->
  batches -> ``task.predict_step`` outputs, in order (evaluation, ``TrainedModel.predict``, the server);
- :mod:`tasuki.prediction.files`: :func:`~tasuki.prediction.files.predict_file`, a file's rows predicted
  in chunks into JSON lines, over several processes (ranks, part files) and resumable;
- :mod:`tasuki.prediction.tables`: those JSON lines written as a ``.csv``/``.tsv`` table beside the input's rows;
- :mod:`tasuki.prediction.runtimes`: what runs the model, torch or an ONNX export.

The package imports nothing itself: ``tasuki --help`` must not pay for torch.
"""
