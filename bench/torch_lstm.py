# torch_lstm.py — the PyTorch side of `make bench` for models/lstm_rows.dlm:
# Fashion-MNIST images as 28 steps of 28-pixel rows, nn.LSTM(28, 128,
# batch_first=True), the last step's h through nn.Linear(128, 10); SGD,
# momentum 0.9, lr 0.01, batch 64, the same threads.
#
#   python3 bench/torch_lstm.py THREADS [SAMPLES [EPOCHS]]
#
# Trains EPOCHS (default 1) passes over the first SAMPLES training images
# (default all 60000). Prints `key value` lines: train_samples_per_s,
# test_accuracy.
import gzip, struct, sys, time

import numpy as np
import torch

FM = "/usr/share/datasets/fashion-mnist/"

def idx(path):
    with gzip.open(path) as f:
        data = f.read()
    nd = data[3]
    dims = struct.unpack(">" + "I" * nd, data[4:4 + 4 * nd])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * nd).reshape(dims)

class Rows(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(28, 128, batch_first=True)
        self.fc = torch.nn.Linear(128, 10)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.fc(out[:, -1])

def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else 60000
    epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    x = torch.tensor(idx(FM + "train-images-idx3-ubyte.gz"), dtype=torch.float32).div_(255)[:limit]
    y = torch.tensor(idx(FM + "train-labels-idx1-ubyte.gz"), dtype=torch.long)[:limit]
    tx = torch.tensor(idx(FM + "t10k-images-idx3-ubyte.gz"), dtype=torch.float32).div_(255)
    ty = torch.tensor(idx(FM + "t10k-labels-idx1-ubyte.gz"), dtype=torch.long)
    model = Rows()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    lossf = torch.nn.CrossEntropyLoss()
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
    with torch.no_grad():
        print("test_accuracy %.4f" % (model(tx).argmax(1) == ty).float().mean().item())

main()
