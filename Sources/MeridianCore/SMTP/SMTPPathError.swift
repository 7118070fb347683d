/// Why a path in a command could not be read; the session turns it into a 501 or 553 reply.
struct SMTPPathError: Error {
    let detail: String
}
