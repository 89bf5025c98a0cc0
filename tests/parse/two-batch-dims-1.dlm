# Only one dimension can be the batch size.
input pairs: f32[N, N, 2]
output y = pairs
