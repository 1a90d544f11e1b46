// Encoder defaults and presets, kept free of heavy imports so the CLI can show them in --help
// without loading the GPU code.

/** Training effort, like x264's presets: steps for a key group and for a predicted group. */
export const PRESETS = {
  fast: { keySteps: 300, laterSteps: 100 },
  medium: { keySteps: 1000, laterSteps: 300 },
  slow: { keySteps: 3000, laterSteps: 1000 },
} as const;
export type Preset = keyof typeof PRESETS;

export const ENCODE_DEFAULTS = {
  groupSize: 8,
  keyInterval: 4,
  preset: 'medium' as Preset,
  lambda: 0.002,
  seed: 1,
};
