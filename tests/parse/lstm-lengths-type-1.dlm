# Lengths are i32 step counts, one per sequence.
input x: f32[N, 5, 3]
input len: f32[N]
output y = lstm(x, 8, lengths = len)
