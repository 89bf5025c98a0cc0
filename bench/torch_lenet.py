# torch_lenet.py — the PyTorch side of `make bench` for models/lenet5.dlm:
# the same network (conv 6@5x5 pad 2, max pool, conv 16@5x5, max pool, fc
# 120, fc 84, fc 10, ReLU), the same recipe (SGD, momentum 0.9, lr 0.01,
# batch 64, one epoch of Fashion-MNIST), the same threads.
#
#   python3 bench/torch_lenet.py THREADS
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
    x = torch.tensor(idx(FM + "train-images-idx3-ubyte.gz"), dtype=torch.float32).div_(255).reshape(-1, 1, 28, 28)
    y = torch.tensor(idx(FM + "train-labels-idx1-ubyte.gz"), dtype=torch.long)
    tx = torch.tensor(idx(FM + "t10k-images-idx3-ubyte.gz"), dtype=torch.float32).div_(255).reshape(-1, 1, 28, 28)
    ty = torch.tensor(idx(FM + "t10k-labels-idx1-ubyte.gz"), dtype=torch.long)
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                          nn.Linear(84, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    lossf = nn.CrossEntropyLoss()
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
        for _ in range(5):
            model(big)
        t = time.perf_counter()
        for _ in range(40):
            model(big)
        tp = 256 * 40 / (time.perf_counter() - t)
    print("infer_b1_us %.1f" % (lat[len(lat) // 2] * 1e6))
    print("infer_b256_samples_per_s %.0f" % tp)
    print("test_accuracy %.4f" % acc)
    print("peak_rss_mb %.1f" % (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))

main()
