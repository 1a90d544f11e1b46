// Final stage of a reduction: one invocation adds the partial sums in index order (deterministic)
// and writes SCALE times their sum to out[INDEX], so the trainer reads back a few bytes.
@group(0) @binding(0) var<storage, read> partial: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

override PARTIALS: u32;
override INDEX: u32;
override SCALE: f32;

@compute @workgroup_size(1)
fn main() {
  var sum = 0.0;
  for (var i = 0u; i < PARTIALS; i++) {
    sum += partial[i];
  }
  out[INDEX] = sum * SCALE;
}
