# The element types are f32 and i32.
input x: f64[N, 784]
output y = x
