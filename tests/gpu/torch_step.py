# torch_step.py — PyTorch CUDA's side of tests/gpu/run.sh: the median time
# of one training step (forward, loss, backward, SGD with momentum) of the
# MLP of models/mlp.dlm or the LeNet-5 of models/lenet5.dlm, eager mode, on
# random inputs, synchronised after each step as dlc's entries are.
#
#   python3 torch_step.py mlp|lenet5 BATCH
#
# Prints `step_us VALUE` and `device NAME`.
import sys, time

import torch

def model(name):
    nn = torch.nn
    if name == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128),
                             nn.ReLU(), nn.Linear(128, 10))
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                         nn.Linear(84, 10))

def main():
    name, batch = sys.argv[1], int(sys.argv[2])
    dev = torch.device("cuda")
    torch.manual_seed(1)
    m = model(name).to(dev)
    opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
    lossf = torch.nn.CrossEntropyLoss()
    x = torch.rand(batch, 1, 28, 28, device=dev)
    y = torch.randint(0, 10, (batch,), device=dev)
    times = []
    for i in range(250):
        torch.cuda.synchronize()
        t = time.perf_counter()
        opt.zero_grad()
        lossf(m(x), y).backward()
        opt.step()
        torch.cuda.synchronize()
        if i >= 50:
            times.append(time.perf_counter() - t)
    times.sort()
    print("step_us %.1f" % (times[len(times) // 2] * 1e6))
    print("device %s" % torch.cuda.get_device_name(0))

main()
