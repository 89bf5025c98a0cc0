# A decode statement is stored as the train key "decode", in the normal
# form the runtime reads (runtime/decode.c): every argument by name, the
# logits by their output's name, and the end token only when given. It
# survives the IR text (dump, then opt reads it back) and reaches the
# program's manifest.
#
# RUN: %dlc dump %s | %FileCheck %s
# RUN: %dlc dump %s -o %t.ir && %dlc opt --passes=shapes %t.ir | %FileCheck %s
# RUN: %dlc build %s -o %t.exe && %t.exe info | %FileCheck %s --check-prefix=INFO
input src: i32[N, 5]
input prev: i32[N, 6]
label y: i32[N, 6] classes 12
enc = lstm(embedding(src, 12, 8), 16)
dec = lstm(embedding(prev, 12, 8), 16)
output scores = dense(concat(dec, attention(dec, enc, enc), axis = 2), 12)
decode answer = greedy(scores, feed = prev, start = 10, target = y)
# CHECK: train "decode" "greedy(output=answer, logits=scores, feed=prev, target=y, start=10)" @"{{.*}}decode.dlm":16:1

# INFO: inputs
# INFO-NEXT: src i32 [N, 5]
# INFO-NEXT: y i32 [N, 6] label, 12 classes
# INFO-NEXT: prev i32 [N, 6] decoder feed: START, then answer's tokens so far
# INFO: outputs
# INFO-NEXT: scores f32 [N, 6, 12]
# INFO-NEXT: answer i32 [N, 6] greedy decoding of scores (start 10)
