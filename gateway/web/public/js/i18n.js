// zh-CN first, English second. Error messages come from the API's error codes (err.<code>), never from English
// server text; an unknown code falls back to the server's message.
const STRINGS = {
  zh: {
    app: '诊析', tagline: '把检查结果变成看得懂、用得上的建议', disclaimer: '结果仅供参考，不能替代医生诊断。',
    lang_switch: 'English', lang_label: '切换语言',
    nav_home: '首页', nav_analysis: '分析', nav_consult: '问诊', nav_medication: '用药', nav_booking: '挂号',
    nav_tips: '科普', nav_admin: '管理', nav_me: '我的',
    login: '登录', register: '注册', logout: '退出登录', username: '用户名', password: '密码',
    username_hint: '3–64 位字母、数字或 _ . - @', password_hint: '至少 8 位',
    no_account: '还没有账号？注册', have_account: '已有账号？登录', registered: '注册成功，请登录。',
    wechat_title: '微信登录', wechat_text: '在微信小程序中打开诊析时，小程序调用 wx.login() 取得一次性登录码，' +
      '网关用它向微信换取 openid 并直接登录（首次使用自动建号，openid 只以加密摘要保存）。在浏览器中请使用用户名和密码。',
    home_title: '首页', hello: '你好', latest_report: '最近的检查', no_reports: '还没有检查结果。',
    start_analysis: '开始新的分析', today_doses: '今日用药', upcoming: '即将就诊', recommended: '推荐科普',
    urgent_banner: '检查结果中有危急值，请尽快就医或联系医生！',
    analysis_title: '新的分析', lab_photo: '化验单照片', lab_photo_hint: '拍照或从相册选择（JPEG、PNG、PDF）',
    xray_photo: '胸部 X 光片', xray_hint: 'PNG、JPEG 或 DICOM', symptoms: '症状描述（可选）',
    symptoms_ph: '例如：咳嗽三天，发热 38.5℃', analyse: '开始分析', need_input: '请至少上传一张化验单、一张 X 光片或填写症状。',
    progress: '分析进度', step_ocr: '识别化验单', step_xray: '分析 X 光片', step_interpret: '解读指标',
    step_symptoms: '分析症状', st_pending: '等待中', st_running: '进行中…', st_done: '完成', st_failed: '失败',
    st_skipped: '未提供',
    report_title: '检查报告', abnormal_first: '异常项目', all_normal: '所有识别出的指标都在参考范围内。',
    indicator_table: '指标明细', col_name: '项目', col_value: '结果', col_unit: '单位', col_range: '参考范围',
    col_flag: '提示', xray_section: 'X 光片', overlay_heatmap: '热力图', overlay_mask: '器官轮廓',
    overlay_boxes: '病灶框', findings: '发现', positive: '阳性', prob: '概率', departments: '建议就诊科室',
    book: '去挂号', tips_section: '健康建议', print_pdf: '打印 / 保存为 PDF', summary: '总结',
    symptoms_section: '症状分析', red_flags: '危险信号', conditions: '可能相关', trend: '历次 X 光发现概率',
    history_title: '历史记录', no_history: '暂无历史记录。',
    consult_title: '健康问答', ask: '提问', ask_ph: '请输入您的问题，例如：尿酸高要注意什么？', send: '发送',
    sources: '依据', emergency_title: '紧急情况', emergency_text: '您描述的情况可能危及生命：请立即拨打 120 或前往最近的急诊。',
    you: '我', assistant: '诊析',
    admin_title: '管理', users_roles: '用户与角色', set_role: '设置角色', role: '角色', saved: '已保存',
    models: '模型注册表', model_name: '名称', model_version: '版本', model_stage: '状态', promote: '上线', rollback: '回滚',
    served: '当前服务中', not_admin: '只有管理员可以访问此页面。',
    pending_service: '该功能所依赖的服务尚未在此服务器上提供。',
    loading: '加载中…', retry: '重试', close: '关闭', flag_L: '偏低', flag_H: '偏高', flag_LL: '危急偏低',
    flag_HH: '危急偏高', flag_N: '正常', flag_POS: '阳性', flag_NEG: '阴性', flag_ABN: '异常',
    'err.invalid_credentials': '用户名或密码错误。', 'err.username_taken': '该用户名已被注册。',
    'err.validation_error': '输入有误，请检查后重试。', 'err.rate_limited': '操作太频繁，请稍后再试。',
    'err.auth_required': '请先登录。', 'err.token_revoked': '登录已失效，请重新登录。',
    'err.token_expired': '登录已过期，请重新登录。', 'err.csrf_failed': '页面已过期，请刷新后重试。',
    'err.upstream_unavailable': '服务暂时不可用，请稍后再试。', 'err.forbidden': '您没有权限执行此操作。',
    'err.not_found': '没有找到。', 'err.network': '网络连接失败，请检查网络。',
    'err.unsupported_media_type': '不支持的文件格式。', 'err.file_too_large': '文件太大。',
    'err.image_too_large': '图片太大。', 'err.image_unreadable': '无法读取该图片。',
    'err.image_too_small': '图片分辨率太低。', 'err.not_chest_xray': '这看起来不是胸部 X 光片。',
    'err.model_unavailable': '分析模型暂不可用。', 'err.empty_text': '请输入内容。', 'err.text_too_long': '内容太长。',
    'err.user_not_found': '没有这个用户。', 'err.payload_too_large': '上传内容太大。',
    'err.invalid_id_number': '身份证号无效（校验位或出生日期不正确）。', 'err.invalid_phone': '手机号无效，请输入 11 位手机号。',
    'err.session_full': '该时段号源已约满。', 'err.session_closed': '该时段已停诊。', 'err.session_in_past': '该时段已过。',
    'err.booking_window_closed': '已过预约截止时间。', 'err.hold_expired': '预留已过期，请重新选择号源。',
    'err.hold_not_active': '该预留已使用或已释放。', 'err.daily_cap_reached': '该就诊人当日预约数已达上限。',
    'err.already_booked_session': '已预约过此医生的本时段。', 'err.no_show_banned': '爽约次数过多，暂停预约。',
    'err.cancel_deadline_passed': '已过取消截止时间。', 'err.booking_not_active': '该预约已取消或已结束。',
    'err.session_exists': '该医生在该时段已有出诊安排。', 'err.doctor_not_found': '找不到该医生。',
    'err.his_timeout': '医院系统无响应，请稍后重试。', 'err.his_rejected': '医院系统拒绝了该请求。',
    booking_title: '预约挂号', search: '搜索', search_ph: '医生、科室或专长，例如：心内科', department: '科室',
    all_departments: '全部科室', only_available: '只看有号', no_doctors: '没有找到医生。', slots_left: '剩余号源',
    sessions: '出诊时间', hold: '预约', period_morning: '上午', period_afternoon: '下午', period_evening: '晚上',
    confirm_title: '确认预约', patient_name: '就诊人姓名', id_number: '身份证号', phone: '手机号', confirm: '确认挂号',
    hold_expires: '号源保留至', live_remaining: '实时剩余', voucher: '就诊凭证', seq_no: '就诊序号', verify_code: '核验码',
    cancel_booking: '取消预约', cancelled: '已取消', my_bookings: '我的预约', no_bookings: '还没有预约。', status: '状态',
    status_confirmed: '已预约', status_cancelled: '已取消', status_completed: '已完成', status_no_show: '爽约', fee: '挂号费',
    view: '查看', back: '返回', hospital: '医院', doctor: '医生',
    'err.unknown_service': '该服务不存在。', 'err.server_error': '服务器出错了，请稍后再试。',
  },
  en: {
    app: 'Zhenxi', tagline: 'Your test results, explained and actionable', disclaimer: 'Decision support, not a diagnosis.',
    lang_switch: '中文', lang_label: 'Switch language',
    nav_home: 'Home', nav_analysis: 'Analyse', nav_consult: 'Ask', nav_medication: 'Meds', nav_booking: 'Booking',
    nav_tips: 'Tips', nav_admin: 'Admin', nav_me: 'Me',
    login: 'Log in', register: 'Sign up', logout: 'Log out', username: 'Username', password: 'Password',
    username_hint: '3–64 letters, digits or _ . - @', password_hint: 'At least 8 characters',
    no_account: 'No account? Sign up', have_account: 'Have an account? Log in', registered: 'Account created; please log in.',
    wechat_title: 'WeChat login', wechat_text: 'Inside the WeChat mini-program, wx.login() gives a one-time code; ' +
      'the gateway exchanges it with WeChat for an openid and logs you in (an account is created on first use; the ' +
      'openid is stored only as a keyed digest). In a browser, use a username and password.',
    home_title: 'Home', hello: 'Hello', latest_report: 'Latest results', no_reports: 'No results yet.',
    start_analysis: 'Start a new analysis', today_doses: "Today's doses", upcoming: 'Upcoming appointments',
    recommended: 'Recommended tips', urgent_banner: 'Your results contain a critical value: see a doctor promptly!',
    analysis_title: 'New analysis', lab_photo: 'Lab report photo', lab_photo_hint: 'Take a photo or choose one (JPEG, PNG, PDF)',
    xray_photo: 'Chest X-ray', xray_hint: 'PNG, JPEG or DICOM', symptoms: 'Symptoms (optional)',
    symptoms_ph: 'e.g. cough for three days, fever 38.5 °C', analyse: 'Analyse',
    need_input: 'Add a lab photo, an X-ray or your symptoms.', progress: 'Progress', step_ocr: 'Reading the lab report',
    step_xray: 'Analysing the X-ray', step_interpret: 'Interpreting indicators', step_symptoms: 'Analysing symptoms',
    st_pending: 'waiting', st_running: 'running…', st_done: 'done', st_failed: 'failed', st_skipped: 'not provided',
    report_title: 'Report', abnormal_first: 'Abnormal items', all_normal: 'Every indicator found is within its range.',
    indicator_table: 'All indicators', col_name: 'Item', col_value: 'Result', col_unit: 'Unit', col_range: 'Range',
    col_flag: 'Flag', xray_section: 'Chest X-ray', overlay_heatmap: 'Heatmap', overlay_mask: 'Organ masks',
    overlay_boxes: 'Boxes', findings: 'Findings', positive: 'positive', prob: 'probability', departments: 'Departments to see',
    book: 'Book', tips_section: 'Advice', print_pdf: 'Print / save as PDF', summary: 'Summary',
    symptoms_section: 'Symptoms', red_flags: 'Red flags', conditions: 'Possibly related', trend: 'X-ray findings over time',
    history_title: 'History', no_history: 'No history yet.',
    consult_title: 'Health Q&A', ask: 'Question', ask_ph: 'Ask a question, e.g. what should I do about high uric acid?',
    send: 'Send', sources: 'Sources', emergency_title: 'Emergency',
    emergency_text: 'What you describe may be life-threatening: call 120 now or go to the nearest emergency department.',
    you: 'Me', assistant: 'Zhenxi',
    admin_title: 'Admin', users_roles: 'Users and roles', set_role: 'Set role', role: 'Role', saved: 'Saved',
    models: 'Model registry', model_name: 'Name', model_version: 'Version', model_stage: 'Stage', promote: 'Promote',
    rollback: 'Roll back', served: 'Serving now', not_admin: 'Only administrators can open this page.',
    pending_service: 'The service behind this page is not available on this server yet.',
    loading: 'Loading…', retry: 'Retry', close: 'Close', flag_L: 'low', flag_H: 'high', flag_LL: 'critically low',
    flag_HH: 'critically high', flag_N: 'normal', flag_POS: 'positive', flag_NEG: 'negative', flag_ABN: 'abnormal',
    'err.invalid_credentials': 'Wrong username or password.', 'err.username_taken': 'That username is taken.',
    'err.validation_error': 'Some input is not valid; check and try again.', 'err.rate_limited': 'Too many attempts; wait a moment.',
    'err.auth_required': 'Please log in.', 'err.token_revoked': 'Your session ended; log in again.',
    'err.token_expired': 'Your session expired; log in again.', 'err.csrf_failed': 'This page is stale; reload it and try again.',
    'err.upstream_unavailable': 'A service is unavailable; try again shortly.', 'err.forbidden': 'You are not allowed to do this.',
    'err.not_found': 'Not found.', 'err.network': 'Network error; check your connection.',
    'err.unsupported_media_type': 'That file type is not supported.', 'err.file_too_large': 'The file is too large.',
    'err.image_too_large': 'The image is too large.', 'err.image_unreadable': 'The image cannot be read.',
    'err.image_too_small': 'The image resolution is too low.', 'err.not_chest_xray': 'This does not look like a chest X-ray.',
    'err.model_unavailable': 'The analysis model is unavailable.', 'err.empty_text': 'Type something first.',
    'err.text_too_long': 'That text is too long.', 'err.user_not_found': 'No such user.',
    'err.payload_too_large': 'The upload is too large.', 'err.unknown_service': 'No such service.',
    'err.invalid_id_number': 'The ID number is not valid.', 'err.invalid_phone': 'Give an 11-digit mobile number.',
    'err.session_full': 'This session is fully booked.', 'err.session_closed': 'This session has been closed.',
    'err.session_in_past': 'This session is in the past.', 'err.booking_window_closed': 'Booking for this session has closed.',
    'err.hold_expired': 'The hold expired; choose a slot again.', 'err.hold_not_active': 'The hold was already used or released.',
    'err.daily_cap_reached': 'Daily booking limit reached.', 'err.already_booked_session': "You already booked this doctor's session.",
    'err.no_show_banned': 'Too many missed appointments; booking is suspended.',
    'err.cancel_deadline_passed': 'The cancellation deadline has passed.', 'err.booking_not_active': 'The booking is no longer active.',
    'err.session_exists': 'The doctor already has this session.', 'err.doctor_not_found': 'Doctor not found.',
    'err.his_timeout': 'The hospital system timed out; try again.', 'err.his_rejected': 'The hospital system refused the request.',
    booking_title: 'Book an appointment', search: 'Search', search_ph: 'Doctor, department or specialty', department: 'Department',
    all_departments: 'All departments', only_available: 'Only with free slots', no_doctors: 'No doctors found.',
    slots_left: 'Slots left', sessions: 'Sessions', hold: 'Book', period_morning: 'Morning', period_afternoon: 'Afternoon',
    period_evening: 'Evening', confirm_title: 'Confirm booking', patient_name: "Patient's name", id_number: 'ID number',
    phone: 'Mobile', confirm: 'Confirm', hold_expires: 'Slot held until', live_remaining: 'Live remaining', voucher: 'Voucher',
    seq_no: 'Queue number', verify_code: 'Verification code', cancel_booking: 'Cancel booking', cancelled: 'Cancelled',
    my_bookings: 'My bookings', no_bookings: 'No bookings yet.', status: 'Status', status_confirmed: 'Booked',
    status_cancelled: 'Cancelled', status_completed: 'Completed', status_no_show: 'No-show', fee: 'Fee', view: 'View',
    back: 'Back', hospital: 'Hospital', doctor: 'Doctor',
    'err.server_error': 'Something went wrong on the server; try again later.',
  },
};

let lang = (() => {
  try { return localStorage.getItem('zx_lang') === 'en' ? 'en' : 'zh'; } catch { return 'zh'; }
})();

export function getLang() { return lang; }

export function setLang(next) {
  lang = next === 'en' ? 'en' : 'zh';
  try { localStorage.setItem('zx_lang', lang); } catch { /* private mode */ }  // a UI preference, not a secret
  document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
}

export function t(key) {
  return STRINGS[lang][key] ?? STRINGS.zh[key] ?? key;
}

/** A user-facing message for an API error: the translation of its code, else the server's own message. */
export function errorText(err) {
  const key = `err.${err.code}`;
  if (STRINGS[lang][key]) return STRINGS[lang][key];
  return err.message || t('err.server_error');
}
