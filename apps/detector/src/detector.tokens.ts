export const DETECTOR_CONFIG = Symbol('DETECTOR_CONFIG');
