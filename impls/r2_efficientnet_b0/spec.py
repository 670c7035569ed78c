"""r2 EfficientNet-B0 from scratch, adapted to 32x32 inputs (report r2).

B0's MBConv stages (expansion, width, repeats, stride, kernel) with squeeze-and-excitation
(ratio 0.25 of the block's input width) and SiLU; head conv 1x1 to 1280, global pool,
dropout 0.2, dense. Adaptation for 32x32, as the report suggests: the stem conv has stride 1
instead of 2, so the five stride-2 stages take 32x32 down to 2x2 (ImageNet B0: 224 -> 7).
"""

from bench.layers import Activation, BatchNorm, Conv, Dense, Dropout, Gate, GlobalAvgPool, Residual

REPORT = "r2"
DESCRIPTION = "EfficientNet-B0, stem stride 1 for 32x32"
INTERPRETATION = ("stem stride 1 (not 2); no stochastic depth (drop-connect); BatchNorm epsilon 1e-5 and "
                  "momentum 0.1 as every model here, not B0's 1e-3 / 0.01")
REPORTED = {"test_accuracy": 0.338, "framework": "PyTorch Lightning"}

# (expansion, output width, repeats, first stride, kernel) of B0's seven stages
STAGES = ((1, 16, 1, 1, 3), (6, 24, 2, 2, 3), (6, 40, 2, 2, 5), (6, 80, 3, 2, 3),
          (6, 112, 3, 1, 5), (6, 192, 4, 2, 5), (6, 320, 1, 1, 3))


def mbconv(name: str, width_in: int, width: int, expansion: int, stride: int, kernel: int) -> list:
    mid = width_in * expansion
    body = []
    if expansion != 1:
        body += [Conv(f"{name}_expand", mid, 1, bias=False), BatchNorm(f"{name}_expand_bn"), Activation("silu")]
    body += [Conv(f"{name}_dw", mid, kernel, stride, depthwise=True, bias=False), BatchNorm(f"{name}_dw_bn"),
             Activation("silu"),
             Gate(f"{name}_se", [GlobalAvgPool(keepdims=True), Conv(f"{name}_se_reduce", max(1, width_in // 4), 1),
                                 Activation("silu"), Conv(f"{name}_se_expand", mid, 1), Activation("sigmoid")]),
             Conv(f"{name}_project", width, 1, bias=False), BatchNorm(f"{name}_project_bn")]
    if stride == 1 and width_in == width:
        return [Residual(name, body)]
    return body


def layers(num_classes: int):
    network = [Conv("stem_conv", 32, 3, 1, bias=False), BatchNorm("stem_bn"), Activation("silu")]
    width_in = 32
    for stage, (expansion, width, repeats, stride, kernel) in enumerate(STAGES, 1):
        for index in range(repeats):
            network += mbconv(f"stage{stage}_{index}", width_in, width, expansion,
                              stride if index == 0 else 1, kernel)
            width_in = width
    return network + [Conv("head_conv", 1280, 1, bias=False), BatchNorm("head_bn"), Activation("silu"),
                      GlobalAvgPool(), Dropout(0.2), Dense("fc", num_classes)]
