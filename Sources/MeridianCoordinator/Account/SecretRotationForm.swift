/// `POST /account/webhook-secret`: a new webhook secret, the old one signing beside it for `overlap` hours.
struct SecretRotationForm: AccountForm {
    var csrf: String?
    var overlap: String?
}
