//! RAM users: CreateUser, GetUser, UpdateUser, DeleteUser, ListUsers.

use rampart_model::Field;
use rampart_store::{NewUser, UserUpdate};
use serde_json::{json, Value};

use super::common::{body, page, paginate, user_json};
use crate::call::Call;
use crate::errors::store_error;
use crate::product::HandlerFuture;

pub fn create_user(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let user_name = call.name(Field::UserName)?;
        let opt = |f, p| call.optional_name(f, p).map(|v| v.unwrap_or("").to_owned());
        let user = NewUser {
            user_name: user_name.to_owned(),
            display_name: opt(Field::DisplayName, "DisplayName")?,
            email: opt(Field::Email, "Email")?,
            mobile_phone: opt(Field::MobilePhone, "MobilePhone")?,
            comments: opt(Field::Comments, "Comments")?,
        };
        let user = call
            .store
            .create_user(call.account()?, user, call.now)
            .await
            .map_err(store_error)?;
        let mut v = user_json(&user);
        if let Value::Object(map) = &mut v {
            // CreateUser's response has no UpdateDate (SDK model).
            map.remove("UpdateDate");
        }
        Ok(body(json!({ "User": v })))
    })
}

pub fn get_user(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let user = call
            .store
            .get_user(call.account()?, call.name(Field::UserName)?)
            .await
            .map_err(store_error)?;
        Ok(body(json!({ "User": user_json(&user) })))
    })
}

pub fn update_user(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let user_name = call.name(Field::UserName)?;
        let own = |f, p| call.optional_name(f, p).map(|v| v.map(str::to_owned));
        let update = UserUpdate {
            new_user_name: own(Field::UserName, "NewUserName")?,
            new_display_name: own(Field::DisplayName, "NewDisplayName")?,
            new_email: own(Field::Email, "NewEmail")?,
            new_mobile_phone: own(Field::MobilePhone, "NewMobilePhone")?,
            new_comments: own(Field::Comments, "NewComments")?,
        };
        let user = call
            .store
            .update_user(call.account()?, user_name, update, call.now)
            .await
            .map_err(store_error)?;
        Ok(body(json!({ "User": user_json(&user) })))
    })
}

pub fn delete_user(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        call.store
            .delete_user(call.account()?, call.name(Field::UserName)?)
            .await
            .map_err(store_error)?;
        Ok(body(json!({})))
    })
}

pub fn list_users(call: &Call) -> HandlerFuture<'_> {
    Box::pin(async move {
        let page = page(call)?;
        let listing = call
            .store
            .list_users(call.account()?, &page)
            .await
            .map_err(store_error)?;
        let users: Vec<Value> = listing
            .items
            .iter()
            .map(|u| {
                let mut v = user_json(u);
                if let Value::Object(map) = &mut v {
                    map.remove("LastLoginDate");
                }
                v
            })
            .collect();
        let mut out = body(json!({ "Users": { "User": users } }));
        paginate(&mut out, &listing);
        Ok(out)
    })
}
