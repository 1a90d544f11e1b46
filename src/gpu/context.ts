import { SHADERS } from './shaders.gen.ts';
import { NervError } from '../errors.ts';

export type ShaderDefines = Record<string, number | string | boolean>;
/** Values of a shader's `override` constants (sizes and settings fixed at pipeline creation). */
export type ShaderConstants = Record<string, number>;

/** One recorded compute dispatch (or a few); the training graph is a static list of these. */
export interface GpuProgram {
  record(pass: GPUComputePassEncoder): void;
  /** Commands that must precede the compute pass (buffer copies), recorded on the same encoder. */
  prepare?(encoder: GPUCommandEncoder): void;
}

const BUFFER_USAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** What a pipeline is made of (GpuContext.pipeline's arguments). */
interface PipelineRequest {
  key: string;
  name: string;
  defines: ShaderDefines;
  entryPoint: string;
  constants: ShaderConstants;
}

/**
 * Owns a GPUDevice plus the caches every kernel needs: pipelines keyed by shader and defines,
 * so a shape compiles once (compiling a big unrolled kernel on SwiftShader takes seconds).
 */
export class GpuContext {
  readonly device: GPUDevice;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly compiling = new Map<string, Promise<GPUComputePipeline>>();
  /** Set while precompile() collects the pipelines a builder asks for. */
  private collecting: PipelineRequest[] | undefined;
  private error: Error | undefined;

  constructor(device: GPUDevice) {
    this.device = device;
    device.addEventListener?.('uncapturederror', (event) => {
      this.error ??= new NervError('GPU', `WebGPU error: ${(event as GPUUncapturedErrorEvent).error.message}`);
    });
  }

  /**
   * Compiles shaders/NAME.wgsl. `defines` fill `{{KEY}}` placeholders (only the generated, unrolled
   * kernels need them); `constants` set the shader's `override` declarations. With the environment
   * variable NERVKIT_PRINT_SHADER set (to 1, or to a shader name), the final source and constants of
   * every new pipeline go to stderr, like tfjs's WEBGPU_PRINT_SHADER.
   */
  pipeline(name: string, defines: ShaderDefines = {}, entryPoint = 'main', constants: ShaderConstants = {}): GPUComputePipeline {
    const key = `${name}|${entryPoint}|${JSON.stringify(defines)}|${JSON.stringify(constants)}`;
    let pipeline = this.pipelines.get(key);
    if (!pipeline && this.collecting) {
      // precompile() only wants to know the pipeline; dispatch() makes nothing of this placeholder.
      this.collecting.push({ key, name, defines, entryPoint, constants });
      return { label: key } as GPUComputePipeline;
    }
    if (!pipeline) {
      pipeline = this.device.createComputePipeline(this.pipelineDescriptor({ key, name, defines, entryPoint, constants }));
      this.pipelines.set(key, pipeline);
    }
    return pipeline;
  }

  /**
   * Compiles every pipeline that `build` asks pipeline() for, all at once and without blocking
   * (createComputePipelineAsync), and caches them, so that running `build` again afterwards
   * compiles nothing. `build` runs here with placeholder pipelines and its dispatches do nothing:
   * throw away what it returns. Kernel builders that only create pipelines and dispatches (the
   * decoder's) allocate nothing on this dry run.
   */
  async precompile(build: () => unknown): Promise<void> {
    if (this.collecting) throw new NervError('GPU', 'precompile() calls cannot nest');
    const requests: PipelineRequest[] = [];
    this.collecting = requests;
    try {
      build();
    } finally {
      this.collecting = undefined;
    }
    await Promise.all(requests.map((request) => this.compileAsync(request)));
    this.throwIfFailed();
  }

  private compileAsync(request: PipelineRequest): Promise<GPUComputePipeline> {
    const cached = this.pipelines.get(request.key);
    if (cached) return Promise.resolve(cached);
    let compiling = this.compiling.get(request.key);
    if (!compiling) {
      const descriptor = this.pipelineDescriptor(request);
      compiling = (
        this.device.createComputePipelineAsync
          ? this.device.createComputePipelineAsync(descriptor)
          : Promise.resolve(this.device.createComputePipeline(descriptor))
      ).then(
        (pipeline) => {
          // A pipeline() call may have compiled the same key meanwhile: keep the first.
          if (!this.pipelines.has(request.key)) this.pipelines.set(request.key, pipeline);
          this.compiling.delete(request.key);
          return this.pipelines.get(request.key)!;
        },
        (error: unknown) => {
          this.compiling.delete(request.key);
          const message = error instanceof Error ? error.message : String(error);
          throw new NervError('GPU', `compiling ${request.name} failed: ${message}`, { cause: error });
        },
      );
      this.compiling.set(request.key, compiling);
    }
    return compiling;
  }

  private pipelineDescriptor({ key, name, defines, entryPoint, constants }: PipelineRequest): GPUComputePipelineDescriptor {
    const code = specializeShader(name, defines);
    const print = printShaderSetting();
    if (print && (print === '1' || print === name)) console.error(`// ${name} ${JSON.stringify(constants)}\n${code}`);
    const module = this.device.createShaderModule({ code, label: name });
    return { layout: 'auto', compute: { module, entryPoint, constants }, label: key };
  }

  /** A zero-filled f32 buffer usable as storage or uniform, padded to 16 bytes. */
  buffer(floats: number, label?: string): GPUBuffer {
    const size = Math.max(16, Math.ceil((floats * 4) / 16) * 16);
    return this.device.createBuffer({ size, usage: BUFFER_USAGE(), label });
  }

  /** A buffer holding `data` (f32, u32 or i32 words). */
  upload(data: Float32Array | Uint32Array | Int32Array, label?: string): GPUBuffer {
    const buffer = this.buffer(data.length, label);
    this.device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    return buffer;
  }

  write(buffer: GPUBuffer, data: Float32Array | Uint32Array | Int32Array, offsetFloats = 0): void {
    this.device.queue.writeBuffer(buffer, offsetFloats * 4, data.buffer, data.byteOffset, data.byteLength);
  }

  /** A small uniform block of u32/f32 words, for values that change between steps (lr, step). */
  params(words: ArrayLike<number>, kind: 'u32' | 'f32' = 'u32'): GPUBuffer {
    const data = kind === 'u32' ? Uint32Array.from(words) : Float32Array.from(words);
    return this.upload(data, 'params');
  }

  bindGroup(pipeline: GPUComputePipeline, buffers: GPUBuffer[]): GPUBindGroup {
    return this.device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
  }

  /** A program of one dispatch; `buffers[i]` is bound at @group(0) @binding(i). */
  dispatch(pipeline: GPUComputePipeline, buffers: GPUBuffer[], workgroups: readonly [number, number?, number?]): GpuProgram {
    if (this.collecting) return { record() {} };
    const [x, y = 1, z = 1] = workgroups;
    const limit = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (x > limit || y > limit || z > limit) {
      throw new NervError('GPU', `dispatch of ${x}x${y}x${z} workgroups exceeds the limit ${limit} for ${pipeline.label}`);
    }
    const bindGroup = this.bindGroup(pipeline, buffers);
    return {
      record(pass) {
        if (x === 0 || y === 0 || z === 0) return;
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, bindGroup);
        pass.dispatchWorkgroups(x, y, z);
      },
    };
  }

  /** Records all programs into one compute pass and submits once (each submit costs milliseconds). */
  run(programs: Iterable<GpuProgram>): void {
    this.throwIfFailed();
    const list = [...programs];
    const encoder = this.device.createCommandEncoder();
    for (const program of list) program.prepare?.(encoder);
    const pass = encoder.beginComputePass();
    for (const program of list) program.record(pass);
    pass.end();
    this.device.queue.submit([encoder.finish()]);
  }

  /** Copies `floats` values out of `buffer` (waits for all submitted work). */
  async read(buffer: GPUBuffer, floats: number, offsetFloats = 0): Promise<Float32Array> {
    const size = Math.ceil((floats * 4) / 4) * 4;
    const staging = this.device.createBuffer({ size: Math.max(4, size), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const encoder = this.device.createCommandEncoder();
    encoder.copyBufferToBuffer(buffer, offsetFloats * 4, staging, 0, size);
    this.device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const out = new Float32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    staging.destroy();
    this.throwIfFailed();
    return out.subarray(0, floats);
  }

  async finish(): Promise<void> {
    await this.device.queue.onSubmittedWorkDone();
    this.throwIfFailed();
  }

  private throwIfFailed(): void {
    if (this.error) {
      const error = this.error;
      this.error = undefined;
      throw error;
    }
  }
}

/** NERVKIT_PRINT_SHADER where an environment exists (Node, Deno with --allow-env); browsers have none. */
function printShaderSetting(): string | undefined {
  try {
    return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.NERVKIT_PRINT_SHADER;
  } catch {
    return undefined; // Deno without --allow-env throws on access
  }
}

/** Shader source with every `{{KEY}}` replaced; a placeholder left unfilled is a programming error. */
export function specializeShader(name: string, defines: ShaderDefines): string {
  const source = SHADERS[name];
  if (source === undefined) throw new NervError('GPU', `unknown shader ${name}`);
  return source.replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    if (!(key in defines)) throw new NervError('GPU', `shader ${name} needs a value for {{${key}}}`);
    return String(defines[key]);
  });
}

/** ceil(a / b) for positive integers: the workgroup count covering `a` items. */
export function divUp(a: number, b: number): number {
  return Math.floor((a + b - 1) / b);
}
