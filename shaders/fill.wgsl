// Sets every element of a buffer to one value: the smallest kernel, the pipeline machinery's test subject (test/context.test.ts).
@group(0) @binding(0) var<storage, read_write> data: array<f32>;

const COUNT: u32 = {{COUNT}}u;
const VALUE: f32 = {{VALUE}};

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3u) {
  let i = id.x;
  if (i < COUNT) { data[i] = VALUE; }
}
