"""``tasuki export DIR --output OUT [--quantize int8]``."""

from __future__ import annotations

import click

from tasuki.cli.common import echo_json
from tasuki.onnx_export import MAX_DROP, OPSETS, QUANTIZATIONS


@click.command("export")
@click.argument("model_dir", type=click.Path())
@click.option("--output", required=True, type=click.Path(),
              help="Directory for the export (new, empty, or an earlier export, which is replaced).")
@click.option("--quantize", type=click.Choice(QUANTIZATIONS),
              help="Dynamic int8 quantization of the weights, smaller and faster on CPUs (int8: the feed-forward "
                   "down-projections stay fp32; int8-all: every one, faster, less exact); default: fp32.")
@click.option("--per-channel/--per-tensor", default=True, show_default=True,
              help="int8 scales per output channel or one per weight matrix.")
@click.option("--opset", type=int, help=f"ONNX opset, {OPSETS[0]} to {OPSETS[-1]} (default: {OPSETS[0]}).")
@click.option("--eval-data", type=click.Path(exists=True),
              help="Labelled data: the model and its export are evaluated on it, and an export whose main metric "
                   "drops by more than --max-drop is not written.")
@click.option("--max-drop", type=float, help=f"With --eval-data: the largest absolute drop of the main metric "
                                             f"allowed (default {MAX_DROP}).")
@click.option("--json", "as_json", is_flag=True, help="Print a summary as JSON.")
def command(model_dir: str, output: str, quantize: str | None, per_channel: bool, opset: int | None,
            eval_data: str | None, max_drop: float | None, as_json: bool) -> None:
    """Export a trained model to ONNX for ONNX Runtime; 'tasuki predict/evaluate OUT' then run on it."""
    from tasuki.onnx_export import export, export_summary

    if not per_channel and quantize is None:
        raise click.UsageError("--per-tensor only applies with --quantize int8")
    if max_drop is not None and eval_data is None:
        raise click.UsageError("--max-drop needs --eval-data FILE (the labelled data both models are evaluated on)")
    export(model_dir, output, quantize=quantize, per_channel=per_channel, opset=opset, eval_data=eval_data,
           max_drop=max_drop)
    summary = export_summary(output)
    if as_json:
        echo_json(summary)
        return
    click.echo(f"exported {summary['task']} model {model_dir} to {output}: {summary['quantization']}, "
               f"{summary['megabytes']} MB, largest difference from torch on a check batch "
               f"{summary['max_abs_diff']:.1e}")
    if gate := summary["quality_gate"]:
        click.echo(f"  quality gate on {gate['data']}: {gate['metric']} {gate['source']:.4f} -> {gate['export']:.4f} "
                   f"(drop {gate['drop']:.4f}, max {gate['max_drop']})")
    click.echo(f"  tasuki predict {output} TEXT...   tasuki evaluate {output} --data TEST")
