# char_lm.dlm — a character-level language model: an LSTM of 256 units
# reads 64 characters (bytes, ASCII) and predicts each one's successor.
# The corpus is the licence texts every Debian machine has (base-files,
# /usr/share/common-licenses: 14 files, 237 KB of English once the links
# to other files of the folder are skipped); it trains on the first
# 90% of every file and is scored on the last 10%, which it never sees.
#
#   dlc build models/char_lm.dlm -o char_lm && ./char_lm train --save char_lm.ckpt
#   ./char_lm generate --weights char_lm.ckpt --prime "This License" --temperature 0.8
#
# The held-out text reaches 2.125 bits per character after the 8 epochs
# (146 s on one thread here; a model of single-character frequencies
# fitted to the training text scores 4.87 on it, leaving out the '!' and
# '_' it never saw); see README, "Sequence
# models". Longer runs overfit: the training text goes on falling (1.40
# bits per character after 8 epochs), the held-out text stays at 2.12.
# In batches of 32 the same 12 epochs reach 2.167. tests/e2e/char_lm.sh
# trains it briefly and checks generation and the compiled code against
# the interpreter.

input text: i32[N, 64]                  # 64 characters
label next: i32[N, 64] classes 128      # the 64 that follow, one further on

h = embedding(text, 128, 32)            # [N, 64, 32]
h = lstm(h, 256)                        # [N, 64, 256]  every step's state
logits = dense(h, 128)                  # [N, 64, 128]
output probs = softmax(logits)          # the next character's distribution

train {
  loss = cross_entropy(logits, next)    # mean over the N x 64 characters
  optimizer = adam(lr = 0.002)
  batch = 16
  epochs = 8
  data = text("/usr/share/common-licenses", part = [0, 0.9])
  test = text("/usr/share/common-licenses", part = [0.9, 1])
}
