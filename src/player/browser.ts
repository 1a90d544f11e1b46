// Entry of the browser bundle (dist/nervkit.browser.js): the whole library plus the player, and
// <nerv-video> registered on import.
import { defineNervVideoElement } from './element.ts';

export * from '../index.ts';
export * from './index.ts';

defineNervVideoElement();
