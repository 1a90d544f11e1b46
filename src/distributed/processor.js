// Entry of the BullMQ sandbox child that runs encode jobs (see worker.ts): plain JavaScript, because
// BullMQ forks it with node alone; it registers tsx's loader, as bin/nervkit.js does, then loads the job.
import { register } from 'tsx/esm/api';

// A child whose worker was killed has nobody to report to: stop rather than train on alone.
process.on('disconnect', () => process.exit(1));
register();
const { default: runJob } = await import('./run-job.ts');
export default runJob;
