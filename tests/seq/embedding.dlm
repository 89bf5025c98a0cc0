# embedding lookup: ids [N, 5] into a table of 11 rows of 4
input ids: i32[N, 5]
label t: f32[N, 5, 4]
output e = embedding(ids, 11, 4)
train { loss = mse(e, t) }
