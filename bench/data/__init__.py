"""The data: CIFAR-10/100 as uint8 NHWC arrays from any copy, the fixed split, and torchvision weight files."""
