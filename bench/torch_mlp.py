# torch_mlp.py — the PyTorch side of `make bench` for models/mlp.dlm:
# the same network (784-256-128-10, ReLU), the same recipe (SGD, momentum
# 0.9, lr 0.01, batch 64, one epoch of Fashion-MNIST), the same threads.
#
#   python3 bench/torch_mlp.py THREADS
#
# Prints `key value` lines: train_samples_per_s, infer_b1_us (median
# latency of one image), infer_b256_samples_per_s, test_accuracy,
# peak_rss_mb.
import gzip, resource, struct, sys, time

import numpy as np
import torch

FM = "/usr/share/datasets/fashion-mnist/"

def idx(path):
    with gzip.open(path) as f:
        data = f.read()
    nd = data[3]
    dims = struct.unpack(">" + "I" * nd, data[4:4 + 4 * nd])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * nd).reshape(dims)

def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    x = torch.tensor(idx(FM + "train-images-idx3-ubyte.gz"), dtype=torch.float32).div_(255).reshape(-1, 784)
    y = torch.tensor(idx(FM + "train-labels-idx1-ubyte.gz"), dtype=torch.long)
    tx = torch.tensor(idx(FM + "t10k-images-idx3-ubyte.gz"), dtype=torch.float32).div_(255).reshape(-1, 784)
    ty = torch.tensor(idx(FM + "t10k-labels-idx1-ubyte.gz"), dtype=torch.long)
    model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(),
                                torch.nn.Linear(256, 128), torch.nn.ReLU(),
                                torch.nn.Linear(128, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    lossf = torch.nn.CrossEntropyLoss()
    perm = torch.randperm(len(x))
    t0 = time.perf_counter()
    for i in range(0, len(x), 64):
        idxs = perm[i:i + 64]
        opt.zero_grad()
        loss = lossf(model(x[idxs]), y[idxs])
        loss.backward()
        opt.step()
    dt = time.perf_counter() - t0
    print("train_samples_per_s %.0f" % (len(x) / dt))
    model.eval()
    with torch.no_grad():
        acc = (model(tx).argmax(1) == ty).float().mean().item()
        one = tx[:1]
        for _ in range(200):
            model(one)
        lat = []
        for _ in range(2000):
            t = time.perf_counter()
            model(one)
            lat.append(time.perf_counter() - t)
        lat.sort()
        big = tx[:256]
        for _ in range(10):
            model(big)
        t = time.perf_counter()
        for _ in range(100):
            model(big)
        tp = 256 * 100 / (time.perf_counter() - t)
    print("infer_b1_us %.1f" % (lat[len(lat) // 2] * 1e6))
    print("infer_b256_samples_per_s %.0f" % tp)
    print("test_accuracy %.4f" % acc)
    print("peak_rss_mb %.1f" % (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))

main()
