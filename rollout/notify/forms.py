"""The user's channel choices and the admins' department robot form."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length, Optional

from rollout.accounts.forms import EMAIL_MESSAGE
from rollout.audit.display import label_codes
from rollout.notify.models import ROBOT_KINDS

ROBOT_KIND_LABELS = {"dingtalk": _l("DingTalk"), "wecom": _l("WeCom"), "feishu": _l("Feishu / Lark")}
CHANNEL_LABELS = {"email": _l("Email"), **ROBOT_KIND_LABELS}
label_codes({("notification_channels", "kind"): CHANNEL_LABELS, ("department_robots", "kind"): ROBOT_KIND_LABELS})
WEBHOOK_HELP = _l("The robot's webhook address; leave empty to stop using it.")
SECRET_HELP = _l("The robot's signing secret (加签). Leave empty to keep the saved one.")


class ChannelsForm(FlaskForm):
    email_enabled = BooleanField(_l("Send me email"))
    email = EmailField(_l("Email address"), validators=[Optional(), Email(message=EMAIL_MESSAGE), Length(max=254)])
    dingtalk_url = StringField(_l("DingTalk robot webhook"), validators=[Optional(), Length(max=500)],
                               description=WEBHOOK_HELP)
    dingtalk_secret = PasswordField(_l("DingTalk secret"), validators=[Optional(), Length(max=200)],
                                    description=SECRET_HELP)
    wecom_url = StringField(_l("WeCom robot webhook"), validators=[Optional(), Length(max=500)],
                            description=WEBHOOK_HELP)
    feishu_url = StringField(_l("Feishu robot webhook"), validators=[Optional(), Length(max=500)],
                             description=WEBHOOK_HELP)
    feishu_secret = PasswordField(_l("Feishu secret"), validators=[Optional(), Length(max=200)],
                                  description=SECRET_HELP)
    is_digest = BooleanField(_l("One daily digest instead of a message per event"))


class RobotForm(FlaskForm):
    department_id = SelectField(_l("Department"), coerce=int, validators=[DataRequired()])
    name = StringField(_l("Group name"), validators=[Optional(), Length(max=100)])
    kind = SelectField(_l("Platform"), choices=[(k, ROBOT_KIND_LABELS[k]) for k in ROBOT_KINDS])
    target = StringField(_l("Webhook address"), validators=[DataRequired(), Length(max=500)])
    secret = PasswordField(_l("Signing secret"), validators=[Optional(), Length(max=200)],
                           description=_l("DingTalk and Feishu only. Leave empty to keep the saved one."))
    is_enabled = BooleanField(_l("Active"), default=True)
