// Stage 2 of the MSE loss: one invocation adds the partial sums in index order (deterministic)
// and writes the mean, so the trainer reads back 4 bytes.
@group(0) @binding(0) var<storage, read> partial: array<f32>;
@group(0) @binding(1) var<storage, read_write> loss: array<f32>;

const PARTIALS: u32 = {{PARTIALS}}u;
const INVERSE_COUNT: f32 = {{INVERSE_COUNT}};

@compute @workgroup_size(1)
fn main() {
  var sum = 0.0;
  for (var i = 0u; i < PARTIALS; i++) {
    sum += partial[i];
  }
  loss[0] = sum * INVERSE_COUNT;
}
