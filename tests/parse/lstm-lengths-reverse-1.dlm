# Lengths mark the padding at the end of each sequence; a reverse layer
# would start in the padding, which is not supported.
input x: f32[N, 5, 3]
input len: i32[N]
output y = lstm(x, 8, reverse = true, lengths = len)
