/* The stb_image and stb_image_write implementations, compiled into the fuzzer only: the fuzzer
   builds them itself with AddressSanitizer and coverage so that it can see inside the decoders.
   Everything else links Debian's libstb, which already contains them. */
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image.h>
#include <stb_image_write.h>
