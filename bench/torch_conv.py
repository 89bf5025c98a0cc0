# torch_conv.py — the PyTorch side of the convolution in `make bench`:
# batch 64, 32 -> 64 channels, 3x3, padding 1, 28x28, forward + backward
# (weight, bias and input gradients), as bench/conv_layer.dlm.
#
#   python3 bench/torch_conv.py THREADS
#
# Prints `key value` lines: fwd_ms, fwdbwd_ms (medians), fwdbwd_gflops
# (3 x the forward's 2*N*O*OH*OW*C*9 flops per step).
import sys, time

import torch

def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    conv = torch.nn.Conv2d(32, 64, 3, padding=1)
    x = torch.rand(64, 32, 28, 28, requires_grad=True)
    flops = 2.0 * 64 * 64 * 28 * 28 * 32 * 9
    def fwd():
        with torch.no_grad():
            conv(x)
    def step():
        conv.zero_grad()
        x.grad = None
        (conv(x) ** 2).mean().backward()
    res = {}
    for name, fn in (("fwd", fwd), ("fwdbwd", step)):
        for _ in range(3):
            fn()
        ts = []
        for _ in range(20):
            t = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t)
        ts.sort()
        res[name] = ts[len(ts) // 2]
    print("fwd_ms %.2f" % (res["fwd"] * 1e3))
    print("fwdbwd_ms %.2f" % (res["fwdbwd"] * 1e3))
    print("fwd_gflops %.1f" % (flops / res["fwd"] / 1e9))
    print("fwdbwd_gflops %.1f" % (3 * flops / res["fwdbwd"] / 1e9))

main()
