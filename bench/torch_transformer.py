# torch_transformer.py — the PyTorch peer of models/transformer.dlm: the
# same network (rows of a Fashion-MNIST image as 28 tokens, a linear
# projection to 64, sinusoidal positions, two pre-norm encoder layers with
# 4-head self-attention and a tanh-GELU feed-forward of 128, layer norm,
# the mean over tokens, a linear classifier), the same recipe (Adam 1e-3,
# batch 64), the same threads. Not part of the build or the tests.
#
#   python3 bench/torch_transformer.py THREADS SAMPLES EPOCHS
#
# Prints `key value` lines: train_samples_per_s (over every epoch) and
# test_accuracy (the full test set).
import gzip, math, struct, sys, time

import numpy as np
import torch

FM = "/usr/share/datasets/fashion-mnist/"

def idx(path):
    with gzip.open(path) as f:
        data = f.read()
    nd = data[3]
    dims = struct.unpack(">" + "I" * nd, data[4:4 + 4 * nd])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * nd).reshape(dims)

nn = torch.nn

class Encoder(nn.Module):
    def __init__(self, d, heads, ff):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.att = nn.MultiheadAttention(d, heads, batch_first=True)
        self.ff = nn.Sequential(nn.Linear(d, ff), nn.GELU(approximate="tanh"), nn.Linear(ff, d))

    def forward(self, x):
        h = self.ln1(x)
        x = x + self.att(h, h, h, need_weights=False)[0]
        return x + self.ff(self.ln2(x))

class Model(nn.Module):
    def __init__(self, T=28, d=64):
        super().__init__()
        self.proj = nn.Linear(28, d)
        pe = torch.zeros(T, d)
        for t in range(T):
            for i in range(d):
                a = t / 10000 ** ((i - i % 2) / d)
                pe[t, i] = math.cos(a) if i % 2 else math.sin(a)
        self.register_buffer("pe", pe)
        self.enc = nn.Sequential(Encoder(d, 4, 128), Encoder(d, 4, 128))
        self.ln = nn.LayerNorm(d)
        self.out = nn.Linear(d, 10)

    def forward(self, x):
        h = self.enc(self.proj(x) + self.pe)
        return self.out(self.ln(h).mean(1))

def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 60000
    epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    x = torch.tensor(idx(FM + "train-images-idx3-ubyte.gz")[:n], dtype=torch.float32).div_(255)
    y = torch.tensor(idx(FM + "train-labels-idx1-ubyte.gz")[:n], dtype=torch.long)
    tx = torch.tensor(idx(FM + "t10k-images-idx3-ubyte.gz"), dtype=torch.float32).div_(255)
    ty = torch.tensor(idx(FM + "t10k-labels-idx1-ubyte.gz"), dtype=torch.long)
    model = Model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    lossf = nn.CrossEntropyLoss()
    t0 = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(len(x))
        for i in range(0, len(x), 64):
            b = perm[i:i + 64]
            opt.zero_grad()
            lossf(model(x[b]), y[b]).backward()
            opt.step()
    dt = time.perf_counter() - t0
    print("train_samples_per_s %.0f" % (epochs * len(x) / dt))
    model.eval()
    with torch.no_grad():
        acc = sum((model(tx[i:i + 1000]).argmax(1) == ty[i:i + 1000]).sum().item()
                  for i in range(0, len(tx), 1000)) / len(tx)
    print("test_accuracy %.4f" % acc)

main()
