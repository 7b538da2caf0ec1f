"""Training: one Accelerate loop that fine-tunes every task.

- :mod:`tasuki.training.setup`: the accelerator, the optimizer, the epochs, the run's fingerprint;
- :mod:`tasuki.training.step`: one optimizer step (the gradient of the combined batch);
- :mod:`tasuki.training.loop`: :func:`~tasuki.training.loop.run_training`, prepare -> resume -> epochs
  (train, evaluate) -> finish;
- :mod:`tasuki.training.stream_batches`: batches tokenized while training runs (large data);
- :mod:`tasuki.training.checkpoint`: checkpoints, the run fingerprint, the checkpoint to resume from;
- :mod:`tasuki.training.phases`: what ``tasuki.train`` does around the loop, phase by phase (load data ->
  choose the held-out set -> resolve the backbone -> run -> save);
- :mod:`tasuki.training.result`: :class:`~tasuki.training.result.TrainResult`, what ``tasuki.train`` returns, built
  from the loop's :class:`~tasuki.training.result.TrainingRun` in one place (``TrainingRun.result``).

The package imports nothing itself: ``tasuki --help`` must not pay for torch.
"""
