"""tasuki-sentiment: the ``sentiment`` task (a preset of ``classify``, English and Japanese) and the end-to-end demo.

    import tasuki
    tasuki.train("sentiment", data="train.csv", output_dir="out/")
    tasuki.load("out/").predict(["What a lovely day"])

    from tasuki_sentiment import demo
    demo.run(lang="en", output_dir="sentiment-demo")
"""

from __future__ import annotations

__version__ = "0.1.0"
