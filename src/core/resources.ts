/**
 * The resource-type registry (src/core/resources/): one module per type,
 * declaring what the rest of the code needs to know about it.
 */
export * from './resources/index.js';
