# Batch norm normalises each channel (axis 1) of a batch: a tensor of
# rank 1 has no channel axis.
input x: f32[N]
output y = batchnorm(x)
