// A workaround for CAF 0.17.6's OpenSSL module, which leaves errors in OpenSSL's per-thread
// error queue and then misreads them on other, healthy TLS connections (see the .cpp). Calling
// the function below links the interposed SSL I/O calls into the program.
#pragma once

namespace llmos {

/// Does nothing at run time; referencing it links the OpenSSL error-queue fix.
void link_openssl_error_queue_fix();

} // namespace llmos
