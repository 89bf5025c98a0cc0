# A bidirectional layer already runs both ways; reverse makes no sense.
input x: f32[N, 5, 3]
output y = gru(x, 8, bidirectional = true, reverse = true)
