export { framePsnr, mean, meanPsnr, meanYuvPsnr, mse8, mseToPsnr, psnr, psnrFloat, psnrOfMeanMse, psnrYuv, psnrYuvPlanes } from './psnr.ts';
export type { YuvPsnr, YuvPsnrOptions } from './psnr.ts';
export { MS_SSIM_WEIGHTS, msSsim, msSsimScales, ssim, ssimFfmpeg, ssimFfmpegPlane, ssimToDb } from './ssim.ts';
export type { SsimOptions } from './ssim.ts';
