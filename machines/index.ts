/** The pure core: the endpoint machine, its effects, its input rules. No I/O. */
export * from './tapstate-error.js';
export * from './endpoint-input.js';
export * from './effects.js';
export * from './steps.js';
export * from './endpoint.js';
