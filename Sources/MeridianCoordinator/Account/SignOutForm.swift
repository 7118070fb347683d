/// `POST /account/sign-out`.
struct SignOutForm: AccountForm {
    var csrf: String?
}
