# A slice must lie inside the axis: [N, 8] has columns 0 to 7.
input x: f32[N, 8]
output y = slice(x, 1, 4, 12)
