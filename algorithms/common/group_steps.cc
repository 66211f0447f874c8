#include "common/group_steps.h"

namespace mrd::algo {

int joinSteps(Schedule* out, char* anyValidAddress, std::initializer_list<int> deps) {
  // A zero-byte copy: the executor runs it as a no-op once deps are done.
  Step s{StepKind::kCopy};
  s.dst = anyValidAddress;
  s.a = anyValidAddress;
  s.bytes = 0;
  return out->add(s, deps);
}

void TrackedBuffer::wrote(int s, int step) {
  if (step < 0) return;  // nothing was scheduled (a copy onto itself)
  Slice& sl = slices_[static_cast<size_t>(s)];
  sl.produced = step;
  sl.readers[0] = sl.readers[1] = -1;
}

void TrackedBuffer::read(int s, int step) {
  Slice& sl = slices_[static_cast<size_t>(s)];
  if (sl.readers[0] < 0) {
    sl.readers[0] = step;
  } else if (sl.readers[1] < 0) {
    sl.readers[1] = step;
  } else {
    // A third reader before the next write: fold two into one.
    sl.readers[0] = joinSteps(out_, base_, {sl.readers[0], sl.readers[1]});
    sl.readers[1] = step;
  }
}

namespace {

int divideSlice(char* p, size_t count, int dep, Schedule* out) {
  Step s{StepKind::kDivide};
  s.dst = p;
  s.count = count;
  return out->add(s, {dep});
}

}  // namespace

void groupReduceScatter(const GroupRing& g, const Blocks& blocks, const char* input,
                        int inputReady, bool divide, TrackedBuffer* buf, SlotRing* slots,
                        Schedule* out, const Relocation* final) {
  const int n = static_cast<int>(g.ranks.size());
  const size_t ts = buf->typeSize();
  auto in = [&](int x) { return input + buf->range(x).begin * ts; };
  auto finalPtr = [&](int x) {
    return final != nullptr ? final->base + (buf->range(x).begin - final->origin) * ts
                            : buf->ptr(x);
  };
  auto finish = [&](int x, int step) {
    if (divide) step = divideSlice(finalPtr(x), buf->range(x).count, step, out);
    if (final == nullptr) buf->wrote(x, step);
  };
  if (n == 1) {
    for (int x : blocks[0]) {
      auto w = buf->writeDeps(x);
      int cp = out->copy(finalPtr(x), in(x), buf->bytes(x), {inputReady, w[0], w[1], w[2]});
      if (cp < 0) cp = joinSteps(out, buf->base(), {inputReady, w[0]});
      finish(x, cp);
    }
    return;
  }
  const int next = g.ranks[static_cast<size_t>(positiveMod(g.me + 1, n))];
  const int prev = g.ranks[static_cast<size_t>(positiveMod(g.me - 1, n))];
  for (int s = 0; s < n - 1; ++s) {
    const auto& sendBlock = blocks[static_cast<size_t>(positiveMod(g.me - s - 1, n))];
    const auto& recvBlock = blocks[static_cast<size_t>(positiveMod(g.me - s - 2, n))];
    const bool last = s == n - 2;  // the block received is this member's own
    for (int x : sendBlock) {
      // Step 0 sends the input; later steps forward the partial sum received before.
      int snd = s == 0 ? out->send(next, g.channel, in(x), buf->bytes(x), {inputReady, buf->produced(x)})
                       : out->send(next, g.channel, buf->ptr(x), buf->bytes(x), {buf->produced(x)});
      buf->read(x, snd);  // the input may be the buffer itself
    }
    for (int x : recvBlock) {
      int slotFree = -1;
      char* slot = slots->next(&slotFree);
      int got = out->recv(prev, g.channel, slot, buf->bytes(x), {slotFree});
      auto w = buf->writeDeps(x);
      char* dst = last ? finalPtr(x) : buf->ptr(x);
      int red = out->reduce(dst, in(x), slot, buf->range(x).count, {got, inputReady, w[0], w[1], w[2]});
      slots->setUser(red);
      if (last) {
        finish(x, red);
      } else {
        buf->wrote(x, red);
      }
    }
  }
}

void groupAllGather(const GroupRing& g, const Blocks& blocks, TrackedBuffer* buf, Schedule* out) {
  const int n = static_cast<int>(g.ranks.size());
  if (n == 1) return;
  const int next = g.ranks[static_cast<size_t>(positiveMod(g.me + 1, n))];
  const int prev = g.ranks[static_cast<size_t>(positiveMod(g.me - 1, n))];
  for (int s = 0; s < n - 1; ++s) {
    for (int x : blocks[static_cast<size_t>(positiveMod(g.me - s, n))]) {
      buf->read(x, out->send(next, g.channel, buf->ptr(x), buf->bytes(x), {buf->produced(x)}));
    }
    for (int x : blocks[static_cast<size_t>(positiveMod(g.me - s - 1, n))]) {
      auto w = buf->writeDeps(x);
      buf->wrote(x, out->recv(prev, g.channel, buf->ptr(x), buf->bytes(x), {w[0], w[1], w[2]}));
    }
  }
}

void lineReduce(const std::vector<int>& line, int me, const std::vector<int>& slices,
                int channel, const char* input, int inputReady, TrackedBuffer* buf,
                SlotRing* slots, Schedule* out) {
  const int n = static_cast<int>(line.size());
  if (n == 1) return;
  const size_t ts = buf->typeSize();
  const int to = me > 0 ? line[static_cast<size_t>(me - 1)] : -1;
  const int from = me < n - 1 ? line[static_cast<size_t>(me + 1)] : -1;
  for (int x : slices) {
    const char* in = input + buf->range(x).begin * ts;
    if (from < 0) {  // the far end: its input starts the sum
      buf->read(x, out->send(to, channel, in, buf->bytes(x), {inputReady, buf->produced(x)}));
      continue;
    }
    int slotFree = -1;
    char* slot = slots->next(&slotFree);
    int got = out->recv(from, channel, slot, buf->bytes(x), {slotFree});
    auto w = buf->writeDeps(x);
    int red = out->reduce(buf->ptr(x), in, slot, buf->range(x).count, {got, inputReady, w[0], w[1], w[2]});
    slots->setUser(red);
    buf->wrote(x, red);
    if (to >= 0) buf->read(x, out->send(to, channel, buf->ptr(x), buf->bytes(x), {red}));
  }
}

void lineBroadcast(const std::vector<int>& line, int me, const std::vector<int>& slices,
                   int channel, TrackedBuffer* buf, Schedule* out, const char* source,
                   const std::vector<int>* owner) {
  const int n = static_cast<int>(line.size());
  if (n == 1) return;
  const size_t ts = buf->typeSize();
  const int from = me > 0 ? line[static_cast<size_t>(me - 1)] : -1;
  const int to = me < n - 1 ? line[static_cast<size_t>(me + 1)] : -1;
  auto has = [&](int rank, int x) {
    return owner != nullptr && (*owner)[static_cast<size_t>(x)] == rank;
  };
  const int self = line[static_cast<size_t>(me)];
  for (int x : slices) {
    if (from >= 0 && !has(self, x)) {
      auto w = buf->writeDeps(x);
      buf->wrote(x, out->recv(from, channel, buf->ptr(x), buf->bytes(x), {w[0], w[1], w[2]}));
    }
    if (to >= 0 && !has(to, x)) {
      if (from < 0 && source != nullptr) {
        out->send(to, channel, source + buf->range(x).begin * ts, buf->bytes(x), {});
      } else {
        buf->read(x, out->send(to, channel, buf->ptr(x), buf->bytes(x), {buf->produced(x)}));
      }
    }
  }
}

}  // namespace mrd::algo
