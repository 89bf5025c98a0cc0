# dropout2d drops whole channels of images [N,C,H,W]; for features [N,F]
# use dropout.
input x: f32[N, 16]
output y = dropout2d(x, 0.5)
