// The image formats a render task may write. Plain data, apart from the wire schemas that list
// them: the CLI names them in `drover render --help` without loading the schema library.

/** Image formats a task may render to: Blender's enum names that -F also accepts (TARGA is -F TGA). */
export const IMAGE_FORMATS = ['PNG', 'JPEG', 'OPEN_EXR', 'OPEN_EXR_MULTILAYER', 'TIFF', 'BMP', 'WEBP', 'TARGA', 'HDR'] as const;
export type ImageFormat = (typeof IMAGE_FORMATS)[number];
